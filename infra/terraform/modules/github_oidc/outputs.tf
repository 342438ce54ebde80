output "release_role_arn" {
  description = "Set as the GitHub variable AWS_RELEASE_ROLE_ARN."
  value       = aws_iam_role.this["release"].arn
}

output "monitor_role_arn" {
  description = "Set as the GitHub variable AWS_MONITOR_ROLE_ARN."
  value       = aws_iam_role.this["monitor"].arn
}
