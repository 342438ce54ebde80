output "project_name" {
  description = "CodeBuild project running `gpcast monitor`."
  value       = aws_codebuild_project.monitor.name
}

output "schedule_arn" {
  description = "EventBridge schedule."
  value       = aws_scheduler_schedule.monitor.arn
}
