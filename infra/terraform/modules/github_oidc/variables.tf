variable "repository" {
  description = "GitHub repository allowed to assume the roles, as owner/name."
  type        = string
}

variable "branch" {
  description = "Branch whose scheduled monitor job may assume the monitor role."
  type        = string
  default     = "main"
}

variable "name_prefix" {
  description = "Prefix of the role names."
  type        = string
}

variable "create_provider" {
  description = "Create the account's GitHub OIDC provider (false if it already exists)."
  type        = bool
  default     = true
}

variable "release_policy_json" {
  description = "Permissions of the release jobs (the pipeline module's release policy)."
  type        = string
}

variable "monitor_policy_json" {
  description = "Permissions of the monitor job."
  type        = string
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
