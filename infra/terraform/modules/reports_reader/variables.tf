variable "name" {
  description = "Name of the user, its group and the SSM parameter path."
  type        = string
}

variable "bucket_arn" {
  description = "Bucket holding the reports."
  type        = string
}

variable "prefix" {
  description = "Key prefix of the reports (with its trailing slash)."
  type        = string
  default     = "reports/"
}

variable "kms_arns" {
  description = "KMS keys of the bucket; the first also encrypts the SSM parameters."
  type        = list(string)
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
