variable "name" {
  description = "Pipeline name; prefixes its projects and roles."
  type        = string
}

variable "repository" {
  description = "GitHub repository, owner/name."
  type        = string
}

variable "branch" {
  description = "Branch that triggers a release."
  type        = string
  default     = "main"
}

variable "approval_topic_arn" {
  description = "SNS topic of the manual approval."
  type        = string
}

variable "topic_kms_key_arn" {
  description = "KMS key of the approval topic (publishers need it)."
  type        = string
}

variable "data_bucket_arn" {
  description = "Bucket holding the training data and actuals."
  type        = string
}

variable "state_bucket_arn" {
  description = "Bucket holding the release state (GPCAST_HOME) and MLflow artifacts."
  type        = string
}

variable "kms_key_arns" {
  description = "KMS keys of the data and state buckets."
  type        = list(string)
}

variable "repository_arns" {
  description = "ECR repositories (staging, production)."
  type        = list(string)
}

variable "container_service_arns" {
  description = "Lightsail container services (staging, production)."
  type        = list(string)
}

variable "gpcast_environment" {
  description = "GPCAST_* settings and STATE_URI for the builds."
  type        = map(string)
}

variable "log_bucket" {
  description = "Bucket for S3 access logs of the artifact bucket (null: none)."
  type        = string
  default     = null
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

variable "secret_parameter_arns" {
  description = "SSM parameters the release reads (database URL, reports reader key)."
  type        = list(string)
  default     = []
}

variable "database_parameter_arn" {
  description = "SSM parameter of the database URL (the monitor reads it too)."
  type        = string
}
