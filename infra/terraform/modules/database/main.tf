# The team's one database: a Lightsail managed PostgreSQL that holds the MLflow backend
# store, the release and forecast ledgers and the serving capture store (artifacts stay in
# S3). Every job and container reaches it by a SQLAlchemy URL kept in an SSM SecureString
# parameter, never in a variable or a file of the repository.
#
# Why Lightsail and not RDS: the serving containers are Lightsail container services and
# the jobs run in CodeBuild and on GitHub's runners, none of them inside a VPC; a Lightsail
# database is reachable by all of them without a VPC, NAT gateway or peering, its price
# is flat (storage, backups and transfer included) and it is managed (patches, daily
# snapshots, point-in-time restore) like RDS. See docs/aws.md for the trade-offs.
data "aws_region" "current" {}

resource "random_password" "master" {
  length  = 40
  special = false # it goes into a URL: letters and digits only
}

resource "aws_lightsail_database" "this" {
  relational_database_name     = var.name
  availability_zone            = "${data.aws_region.current.name}${var.availability_zone_suffix}"
  master_database_name         = "gpcast"
  master_username              = "gpcast"
  master_password              = random_password.master.result
  blueprint_id                 = var.blueprint
  bundle_id                    = var.bundle
  publicly_accessible          = true # GitHub's runners and CodeBuild are outside Lightsail
  backup_retention_enabled     = true
  preferred_backup_window      = "03:10-03:40"
  preferred_maintenance_window = "Sun:04:00-Sun:04:30"
  skip_final_snapshot          = false
  final_snapshot_name          = "${var.name}-final"
  apply_immediately            = true
  tags                         = var.tags
}

locals {
  # TLS on every connection (sslmode=require); psycopg 3 is the driver gpcast installs.
  url = "postgresql+psycopg://gpcast:${random_password.master.result}@${aws_lightsail_database.this.master_endpoint_address}:${aws_lightsail_database.this.master_endpoint_port}/gpcast?sslmode=require"
}

resource "aws_ssm_parameter" "url" {
  name        = "/${var.name}/database-url"
  description = "SQLAlchemy URL of the gpcast database (GPCAST_DATABASE_URL, GPCAST_TRACKING_URI, GPCAST_CAPTURE_URL)"
  type        = "SecureString"
  key_id      = var.kms_key_arn
  value       = local.url
  tags        = var.tags
}
