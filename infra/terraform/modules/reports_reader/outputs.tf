output "parameters" {
  description = "SSM parameter names: access-key-id and secret-access-key."
  value       = { for k, p in aws_ssm_parameter.key : k => p.name }
}

output "parameter_arns" {
  description = "ARNs of the two SSM parameters."
  value       = [for p in aws_ssm_parameter.key : p.arn]
}
