variable "name" {
  description = "Topic name."
  type        = string
}

variable "emails" {
  description = "E-mail addresses subscribed (each must confirm the subscription mail)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags on the topic."
  type        = map(string)
  default     = {}
}
