output "name" {
  description = "Service name."
  value       = aws_lightsail_container_service.this.name
}

output "url" {
  description = "Public endpoint of the service."
  value       = aws_lightsail_container_service.this.url
}

output "ecr_puller_principal_arn" {
  description = "Principal the service pulls ECR images as (grant it in the repository policy)."
  value       = aws_lightsail_container_service.this.private_registry_access[0].ecr_image_puller_role[0].principal_arn
}

output "arn" {
  description = "Service ARN."
  value       = aws_lightsail_container_service.this.arn
}
