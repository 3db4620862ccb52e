-- The incident list filters by service and tenant through these indexes, reading the incidents
-- of a name from them alone: with the incident id in the index, the table is not read.
DROP INDEX incident_services_name;
CREATE INDEX incident_services_name ON incident_services (name, incident_id);
DROP INDEX incident_tenants_name;
CREATE INDEX incident_tenants_name ON incident_tenants (name, incident_id);
