/**
 * Talking to the server extension (runtime/rayground/lab): REST calls and the live feed.
 *
 * The feed is one WebSocket (`/rayground/feed`). The panel sends `watch` messages; the server
 * sends `clusters`, `curriculum`, `watching`, `snapshot`, `tasks`, `tables`, `status`,
 * `libraries` and `error` (see docs/architecture.md). The socket reconnects with backoff when it drops (server
 * restart, network), and re-sends the last `watch` so the panel picks up where it was.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { ITaskRow } from './dag';
import { LibraryBoard } from './libraries';
import { IExerciseProgress, ILesson } from './progress';

export interface INodeRow {
  node_id: string;
  node_ip: string;
  is_head_node: boolean;
  state: string;
  resources_total: Record<string, number>;
  resources_available: Record<string, number>;
  object_store_used: number;
  object_store_capacity: number;
  num_workers: number;
}

export interface IClusterInfo {
  id: string;
  address: string;
  tcp_address: string | null;
  pid: number;
  owner_pid: number | null;
  started: number;
  kind: 'server' | 'standalone' | 'driver';
  stoppable: boolean;
  kernel_ids: string[];
  connected: boolean;
  error: string | null;
  nodes: INodeRow[];
  tasks: Record<string, number>;
  actors: Record<string, number>;
  objects: number;
  store_used: number;
  store_capacity: number;
  workers: number;
  drivers: number;
}

/** A task row of the feed (`snapshot`, `tasks`): the one schema, generated from Python. */
export type ITask = ITaskRow;

export interface IObjectRow {
  id: string;
  size: number;
  where: string;
  spilled: boolean;
  status: string;
  owner: string | null;
  task_id: string | null;
  refs: number;
  pins: number;
  holders: string[];
  /** Who owns it, in words ("worker pid 123", "a driver (notebook or script)"). */
  owner_name?: string;
  /** What keeps it alive, in words (feed.py held_by). */
  held_by?: string[];
  created?: number | null;
  /** The node that wrote it, and those it was copied to (transfers between nodes). */
  node?: string | null;
  copies?: string[];
}

/** Where the workers run: pid -> node id, node id -> its label (IP, "(head)"). */
export interface IPlacement {
  workers: Record<string, string>;
  nodes: Record<string, string>;
}

export interface IObjectTable {
  rows: IObjectRow[];
  count: number;
  used: number;
  capacity: number | null;
  spilled_bytes: number;
}

export interface IActorRow {
  id: string;
  class_name: string;
  name: string;
  state: string;
  pid: number | null;
  calls_done: number;
  calls_queued: number;
  restarts: number;
  death_cause: string | null;
}

export interface ICurriculum {
  lessons: ILesson[];
  progress: Record<string, IExerciseProgress>;
  progress_file: string;
  progress_error: string | null;
}

export type FeedMessage =
  | { type: 'clusters'; clusters: IClusterInfo[] }
  | ({ type: 'curriculum' } & ICurriculum)
  | {
      type: 'watching';
      cluster: string | null;
      kernel_id: string | null;
      reason: string;
    }
  | {
      type: 'snapshot';
      cluster: string;
      tasks: ITask[];
      objects: IObjectTable;
      actors: IActorRow[];
      placement?: IPlacement;
      status: Record<string, any>;
      libraries?: LibraryBoard;
    }
  | { type: 'tasks'; cluster: string; upsert: ITask[]; removed: string[] }
  | { type: 'libraries'; cluster: string; libraries: LibraryBoard }
  | {
      type: 'tables';
      cluster: string;
      objects: IObjectTable;
      actors: IActorRow[];
      placement?: IPlacement;
    }
  | { type: 'status'; cluster: string; status: Record<string, any> }
  | { type: 'error'; message: string };

/** Call a REST route under /rayground; throws an Error carrying the server's message. */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'rayground', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as any);
  }
  const text = await response.text();
  let data: any = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const message =
      (data && typeof data === 'object' && data.message) ||
      `${response.status} ${response.statusText}`;
    throw new Error(`rayground: ${message}`);
  }
  return data as T;
}

export interface IWatch {
  kernelId: string | null;
  cluster: string | null;
}

/** The live feed; `onMessage` gets every server message, `onState` the socket's state. */
export class Feed {
  constructor(
    private onMessage: (msg: FeedMessage) => void,
    private onState: (connected: boolean, failures: number) => void
  ) {}

  connect(): void {
    if (this._disposed) {
      return;
    }
    const settings = ServerConnection.makeSettings();
    let url = URLExt.join(settings.wsUrl, 'rayground', 'feed');
    if (settings.appendToken && settings.token) {
      url += `?token=${encodeURIComponent(settings.token)}`;
    }
    const ws = new settings.WebSocket(url);
    this._ws = ws;
    ws.onopen = () => {
      this._delay = 500;
      this._failures = 0;
      this.onState(true, 0);
      this._sendWatch();
    };
    ws.onmessage = event => {
      try {
        this.onMessage(JSON.parse(event.data) as FeedMessage);
      } catch (error) {
        console.error('rayground: bad message from the server', error);
      }
    };
    ws.onclose = () => {
      if (this._ws === ws) {
        this._ws = null;
      }
      this._failures += 1;
      this.onState(false, this._failures);
      if (!this._disposed) {
        this._timer = window.setTimeout(() => this.connect(), this._delay);
        this._delay = Math.min(this._delay * 2, 10000);
      }
    };
  }

  watch(target: IWatch): void {
    this._watch = target;
    this._sendWatch();
  }

  dispose(): void {
    this._disposed = true;
    window.clearTimeout(this._timer);
    this._ws?.close();
    this._ws = null;
  }

  private _sendWatch(): void {
    const ws = this._ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(
        JSON.stringify({
          type: 'watch',
          kernel_id: this._watch.kernelId,
          cluster: this._watch.cluster
        })
      );
    }
  }

  private _ws: WebSocket | null = null;
  private _watch: IWatch = { kernelId: null, cluster: null };
  private _delay = 500;
  private _failures = 0;
  private _timer = 0;
  private _disposed = false;
}
