import type { Sql } from '../../platform/index.js';
import { notFound } from '../http/http-errors.js';

/** A device a client names when it plays or downloads (`deviceId`, with an optional type and name). */
export interface DeviceInput {
  id: string;
  type?: string;
  name?: string;
}

export interface DeviceView {
  id: string;
  type: string;
  name: string;
  firstSeenAt: string;
  lastSeenAt: string;
}

interface DeviceRow {
  id: string;
  type: string;
  name: string;
  created_at: Date | string;
  last_seen_at: Date | string;
}

const toView = (r: DeviceRow): DeviceView => ({ id: r.id, type: r.type, name: r.name, firstSeenAt: new Date(r.created_at).toISOString(), lastSeenAt: new Date(r.last_seen_at).toISOString() });

/** The devices of an account, recorded as they play; removing one signs it out (its sessions end). */
export class DeviceService {
  constructor(private readonly deps: { sql: Sql; onRemove: (accountId: string, deviceId: string) => Promise<void> }) {}

  /** Records that the device is in use now (a type or name given later replaces the earlier one). */
  async touch(accountId: string, device: DeviceInput): Promise<DeviceView> {
    const [row] = await this.deps.sql.query<DeviceRow>(
      `INSERT INTO devices (account_id, id, type, name, created_at, last_seen_at) VALUES ($1, $2, $3, $4, now(), now())
       ON CONFLICT (account_id, id) DO UPDATE SET last_seen_at = now(),
         type = CASE WHEN $5 THEN EXCLUDED.type ELSE devices.type END, name = CASE WHEN $6 THEN EXCLUDED.name ELSE devices.name END
       RETURNING *`,
      [accountId, device.id, device.type ?? 'unknown', device.name ?? device.id, device.type !== undefined, device.name !== undefined],
    );
    return toView(row);
  }

  async list(accountId: string): Promise<DeviceView[]> {
    const rows = await this.deps.sql.query<DeviceRow>(`SELECT * FROM devices WHERE account_id = $1 ORDER BY last_seen_at DESC, id`, [accountId]);
    return rows.map(toView);
  }

  /** Signs a device out: its playback sessions end and it is forgotten (404 for an unknown one). */
  async remove(accountId: string, id: string): Promise<void> {
    const rows = await this.deps.sql.query(`DELETE FROM devices WHERE account_id = $1 AND id = $2 RETURNING id`, [accountId, id]);
    if (rows.length === 0) throw notFound('device');
    await this.deps.onRemove(accountId, id);
  }
}
