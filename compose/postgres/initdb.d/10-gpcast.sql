-- The team stack's second database: gpcast's release and forecast ledgers and the request
-- capture store (GPCAST_DATABASE_URL, GPCAST_CAPTURE_URL); MLflow has POSTGRES_DB.
CREATE DATABASE gpcast;
