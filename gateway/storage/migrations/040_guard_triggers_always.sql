-- The append-only and retire-only guards fire ALWAYS, whatever the session's replication role.
--
-- A trigger created with CREATE TRIGGER is enabled "on origin": it does not fire in a session that
-- has `SET session_replication_role = replica` (which any superuser may set), so such a session
-- could UPDATE, DELETE or TRUNCATE the audit log with no visible change to the schema. ENABLE ALWAYS
-- makes the trigger fire in every replication role. Switching a guard off now takes a catalog change
-- (ALTER TABLE ... DISABLE TRIGGER, DROP TRIGGER), which only the table's owner or a superuser can
-- make; pg_trigger.tgenabled shows it ('A' = always, 'D' = disabled), and pg_dump keeps the setting.

ALTER TABLE audit_events ENABLE ALWAYS TRIGGER audit_events_append_only;
ALTER TABLE audit_checkpoints ENABLE ALWAYS TRIGGER audit_checkpoints_append_only;
ALTER TABLE audit_settings ENABLE ALWAYS TRIGGER audit_settings_append_only;
ALTER TABLE audit_review_samples ENABLE ALWAYS TRIGGER audit_review_samples_append_only;
ALTER TABLE audit_review_items ENABLE ALWAYS TRIGGER audit_review_items_append_only;
ALTER TABLE audit_review_findings ENABLE ALWAYS TRIGGER audit_review_findings_append_only;
ALTER TABLE system_keys ENABLE ALWAYS TRIGGER system_keys_retire_only;

-- system_keys_retire_only (020) is a row trigger on UPDATE and DELETE; row triggers never fire on
-- TRUNCATE, so until now `TRUNCATE system_keys` (or `TRUNCATE systems CASCADE`) erased every key.
-- A statement trigger refuses it, in every replication role too.
CREATE FUNCTION system_keys_refuse_truncate() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  RAISE EXCEPTION 'system keys are never deleted; retire them instead: % on % is refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER system_keys_no_truncate BEFORE TRUNCATE ON system_keys
  FOR EACH STATEMENT EXECUTE FUNCTION system_keys_refuse_truncate();
ALTER TABLE system_keys ENABLE ALWAYS TRIGGER system_keys_no_truncate;
