-- Connector registrations: a department declares which certificate types (and schema versions) its
-- connector answers. Gateways route lookups only to registered departments and types. One registration
-- per department: its connector instances share the department's request topic and consumer group.
-- Removing a registration deletes its row; the audit log keeps who registered and removed what, when.

CREATE TABLE connector_registrations (
  department text PRIMARY KEY REFERENCES departments (code),
  -- [{"certificateType": "...", "schemaVersion": 1}, ...], checked against the catalog by the gateway.
  certificate_types jsonb NOT NULL CHECK (jsonb_typeof(certificate_types) = 'array'),
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL
);

-- Registrations are part of the registry every gateway instance holds in memory.
CREATE TRIGGER connector_registrations_bump_registry_revision
  AFTER INSERT OR UPDATE OR DELETE ON connector_registrations
  FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_revision();
