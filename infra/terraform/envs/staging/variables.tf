variable "region" {
  description = "AWS region."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "gpcast"
}

variable "power" {
  description = "Lightsail node size of the staging service."
  type        = string
  default     = "micro"
}

variable "scale" {
  description = "Lightsail nodes of the staging service."
  type        = number
  default     = 1
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete buckets and repositories that still hold data (teardown)."
  type        = bool
  default     = false
}

variable "database_bundle" {
  description = "Lightsail database bundle of the team's PostgreSQL."
  type        = string
  default     = "micro_2_0"
}
