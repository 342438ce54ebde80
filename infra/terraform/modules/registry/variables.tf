variable "name" {
  description = "Repository name (the gpcast setting GPCAST_ECR_REPOSITORIES uses it)."
  type        = string
}

variable "keep_images" {
  description = "Model images kept; older ones expire."
  type        = number
  default     = 30
}

variable "pull_principal_arns" {
  description = "Principals allowed to pull (the Lightsail services' ECR image puller roles)."
  type        = list(string)
  default     = []
}

variable "force_delete" {
  description = "Let `terraform destroy` delete a repository that still holds images."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
