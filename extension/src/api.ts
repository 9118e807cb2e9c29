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
import type { FeedMessage } from './feedtypes';
import type { ITaskRow } from './taskrow';

// The feed's messages and rows are generated from runtime/rayground/lab/feed_schema.py.
export type {
  FeedMessage,
  IActorRow,
  IClusterInfo,
  ICurriculum,
  INodeRow,
  IObjectRow,
  IObjectTable,
  IPlacement
} from './feedtypes';

/** A task row of the feed (`snapshot`, `tasks`): the one schema, generated from Python. */
export type ITask = ITaskRow;

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
