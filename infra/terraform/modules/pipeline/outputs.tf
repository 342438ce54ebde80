output "pipeline_name" {
  description = "CodePipeline name."
  value       = aws_codepipeline.this.name
}

output "connection_arn" {
  description = "CodeStar connection to GitHub: confirm it once in the console (Developer Tools → Connections)."
  value       = aws_codestarconnections_connection.github.arn
}

output "release_policy_json" {
  description = "Permissions of a release run (also given to the GitHub release role)."
  value       = data.aws_iam_policy_document.release.json
}

output "monitor_policy_json" {
  description = "Permissions of a monitor run."
  value       = data.aws_iam_policy_document.monitor.json
}

output "kms_key_arn" {
  description = "KMS key of the pipeline's artifacts and build output."
  value       = aws_kms_key.pipeline.arn
}
