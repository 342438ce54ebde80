variable "region" {
  description = "AWS region of everything gpcast runs."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "gpcast"
}
