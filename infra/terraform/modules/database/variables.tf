variable "name" {
  description = "Database name; the SSM parameter is /<name>/database-url."
  type        = string
}

variable "bundle" {
  description = "Lightsail database bundle (micro_2_0: 1 GB RAM, 2 vCPUs, 40 GB SSD)."
  type        = string
  default     = "micro_2_0"
}

variable "blueprint" {
  description = "Lightsail database blueprint (engine and major version)."
  type        = string
  default     = "postgres_16"
}

variable "availability_zone_suffix" {
  description = "Availability zone letter in the region."
  type        = string
  default     = "a"
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the SSM parameter holding the URL."
  type        = string
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
