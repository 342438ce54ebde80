variable "name" {
  description = "Name of the schedule, its CodeBuild project and roles."
  type        = string
}

variable "schedule_expression" {
  description = "When to run `gpcast monitor` (EventBridge Scheduler syntax)."
  type        = string
  default     = "cron(17 6 ? * MON *)"
}

variable "repository" {
  description = "GitHub repository, owner/name."
  type        = string
}

variable "branch" {
  description = "Branch whose buildspec runs."
  type        = string
  default     = "main"
}

variable "connection_arn" {
  description = "CodeStar connection to GitHub (the pipeline module's)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for build output and the schedule."
  type        = string
}

variable "monitor_policy_json" {
  description = "Permissions of a monitor run (the pipeline module's monitor policy)."
  type        = string
}

variable "gpcast_environment" {
  description = "GPCAST_* settings and STATE_URI for the build."
  type        = map(string)
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}

variable "gpcast_secrets" {
  description = "Settings read from SSM SecureString parameters at build time (name -> parameter)."
  type        = map(string)
  default     = {}
}
