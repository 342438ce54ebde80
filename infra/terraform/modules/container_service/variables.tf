variable "name" {
  description = "Service name (the gpcast setting GPCAST_LIGHTSAIL_SERVICES uses it)."
  type        = string
}

variable "power" {
  description = "Node size: nano, micro, small, medium, large, xlarge."
  type        = string
  default     = "micro"
  validation {
    condition     = contains(["nano", "micro", "small", "medium", "large", "xlarge"], var.power)
    error_message = "power must be one of nano, micro, small, medium, large, xlarge."
  }
}

variable "scale" {
  description = "Number of nodes (1-20)."
  type        = number
  default     = 1
}

variable "tags" {
  description = "Tags on the service."
  type        = map(string)
  default     = {}
}
