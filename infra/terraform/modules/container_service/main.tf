# A Lightsail container service. Deployments are made by `gpcast` (the lightsail deploy
# target), never by Terraform, so Terraform ignores them; it only owns the service.
resource "aws_lightsail_container_service" "this" {
  name        = var.name
  power       = var.power
  scale       = var.scale
  is_disabled = false
  tags        = var.tags

  private_registry_access {
    ecr_image_puller_role {
      is_active = true
    }
  }
}
