-- An alert belongs to one tenant: only the same service, tenant and dedup key fold into an open
-- alert, and alerts are listed by tenant. NULL is an alert of no tenant.
ALTER TABLE alerts ADD COLUMN tenant TEXT;
CREATE INDEX alerts_tenant ON alerts (tenant, id);
-- Alerts raised before take the tenant of their events (as their detections recorded it) where
-- that is one tenant, and a silence alert the tenant its dedup key watches. Alerts people acted
-- on are left without: the audit trail recorded their states without a tenant, and a tenant
-- set here would read as a change made outside Vigil.
UPDATE alerts SET tenant = (
    SELECT CASE WHEN COUNT(DISTINCT d.tenant) = 1 THEN NULLIF(MIN(d.tenant), '') END
    FROM alert_events e JOIN detections d ON d.event_id = e.event_id
    WHERE e.alert_id = alerts.id
)
WHERE source = 'detection'
  AND 'ALR-' || id NOT IN (
      SELECT json_extract(payload, '$.alert') FROM audit
      WHERE json_extract(payload, '$.alert') IS NOT NULL
  );
UPDATE alerts SET tenant = NULLIF(substr(dedup_key, length('silence|' || service || '|') + 1), '')
WHERE source = 'monitor'
  AND substr(dedup_key, 1, length('silence|' || service || '|')) = 'silence|' || service || '|'
  AND 'ALR-' || id NOT IN (
      SELECT json_extract(payload, '$.alert') FROM audit
      WHERE json_extract(payload, '$.alert') IS NOT NULL
  );
