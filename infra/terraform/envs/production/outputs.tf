output "url" {
  description = "Production public endpoint."
  value       = module.service.url
}

output "pipeline" {
  description = "CodePipeline name."
  value       = module.pipeline.pipeline_name
}

output "connection_arn" {
  description = "Confirm this GitHub connection once in the console."
  value       = module.pipeline.connection_arn
}

output "github_release_role_arn" {
  description = "GitHub variable AWS_RELEASE_ROLE_ARN."
  value       = module.github.release_role_arn
}

output "github_monitor_role_arn" {
  description = "GitHub variable AWS_MONITOR_ROLE_ARN."
  value       = module.github.monitor_role_arn
}

output "github_variables" {
  description = "Repository variables the workflows read."
  value = {
    AWS_REGION           = var.region
    GPCAST_DATA_URI      = local.gpcast_environment.GPCAST_DATA_URI
    GPCAST_STATE_URI     = local.gpcast_environment.STATE_URI
    GPCAST_APPROVERS     = local.gpcast_environment.GPCAST_APPROVERS
    GPCAST_SNS_TOPIC_ARN = module.approval.topic_arn
    GPCAST_ARTIFACT_URI  = local.gpcast_environment.GPCAST_ARTIFACT_URI
    GPCAST_MLFLOW_UI_URL = var.mlflow_ui_url
    GPCAST_REPORTS_URI   = local.gpcast_environment.GPCAST_REPORTS_URI
    # SSM parameters the jobs read with their role (never copy their values anywhere)
    GPCAST_DATABASE_PARAMETER       = local.gpcast_environment.GPCAST_DATABASE_PARAMETER
    GPCAST_REPORTS_READER_PARAMETER = local.gpcast_environment.GPCAST_REPORTS_READER_PARAMETER
    GPCAST_CONTAINER_ENV            = "{}"
  }
}
