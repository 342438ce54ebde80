variable "region" {
  description = "AWS region (the same as staging's)."
  type        = string
}

variable "state_bucket" {
  description = "Terraform state bucket (envs/bootstrap output), to read staging's outputs."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "gpcast"
}

variable "github_repository" {
  description = "GitHub repository, owner/name: CodePipeline's source and the OIDC trust."
  type        = string
}

variable "branch" {
  description = "Branch that releases."
  type        = string
  default     = "main"
}

variable "data_key" {
  description = "Key of the training data in the data bucket."
  type        = string
  default     = "call_centre.csv"
}

variable "approvers" {
  description = "People allowed to approve (GPCAST_APPROVERS): GitHub logins or IAM user names."
  type        = list(string)
}

variable "approval_emails" {
  description = "E-mail addresses that receive approval requests."
  type        = list(string)
  default     = []
}

variable "power" {
  description = "Lightsail node size of the production service."
  type        = string
  default     = "small"
}

variable "scale" {
  description = "Lightsail nodes of the production service."
  type        = number
  default     = 1
}

variable "monitor_schedule" {
  description = "When `gpcast monitor` runs."
  type        = string
  default     = "cron(17 6 ? * MON *)"
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (false if one exists)."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete repositories that still hold images (teardown)."
  type        = bool
  default     = false
}

variable "mlflow_ui_url" {
  description = "Where the team opens `mlflow ui` (docs/aws.md); notifications link model cards there."
  type        = string
  default     = "http://127.0.0.1:5000"
}
