output "data_bucket" {
  description = "Upload the training data here; GPCAST_DATA_URI=s3://<bucket>/<key>."
  value       = module.data.bucket
}

output "data_bucket_arn" {
  description = "Data bucket ARN."
  value       = module.data.arn
}

output "state_bucket" {
  description = "Release state: GPCAST_STATE_URI=s3://<bucket>."
  value       = module.state.bucket
}

output "state_bucket_arn" {
  description = "Release state bucket ARN."
  value       = module.state.arn
}

output "kms_key_arns" {
  description = "KMS keys of the data and state buckets."
  value       = [module.data.kms_key_arn, module.state.kms_key_arn]
}

output "repository" {
  description = "Staging ECR repository."
  value       = module.registry.name
}

output "repository_arn" {
  description = "Staging ECR repository ARN."
  value       = module.registry.arn
}

output "service" {
  description = "Staging Lightsail container service."
  value       = module.service.name
}

output "service_arn" {
  description = "Staging Lightsail container service ARN."
  value       = module.service.arn
}

output "url" {
  description = "Staging public endpoint."
  value       = module.service.url
}

output "database_url_parameter" {
  description = "SSM SecureString parameter with the database's SQLAlchemy URL."
  value       = module.database.url_parameter
}

output "database_url_parameter_arn" {
  description = "ARN of the database URL parameter."
  value       = module.database.url_parameter_arn
}

output "database_endpoint" {
  description = "host:port of the team's PostgreSQL."
  value       = module.database.endpoint
}

output "reports_reader_parameters" {
  description = "SSM SecureString parameters with the reports reader's access key id and secret."
  value       = module.reports_reader.parameters
}

output "reports_reader_parameter_arns" {
  description = "ARNs of those parameters."
  value       = module.reports_reader.parameter_arns
}
