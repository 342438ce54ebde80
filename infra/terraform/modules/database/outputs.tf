output "url_parameter" {
  description = "Name of the SSM SecureString parameter holding the SQLAlchemy URL."
  value       = aws_ssm_parameter.url.name
}

output "url_parameter_arn" {
  description = "ARN of that parameter (grant ssm:GetParameters on it)."
  value       = aws_ssm_parameter.url.arn
}

output "endpoint" {
  description = "host:port of the database."
  value       = "${aws_lightsail_database.this.master_endpoint_address}:${aws_lightsail_database.this.master_endpoint_port}"
}
