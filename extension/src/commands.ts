/** Command IDs of the rayground panel (`<pkg>:<verb-noun>`). */
export namespace CommandIDs {
  export const openPanel = 'rayground:open-panel';
  export const startCluster = 'rayground:start-cluster';
  export const stopCluster = 'rayground:stop-cluster';
  export const openLesson = 'rayground:open-lesson';
  export const followNotebook = 'rayground:follow-notebook';
  /** Open a view as a main-area pane: args {kind: 'dag'|'stream'|'objects'|'actors'|'status'}. */
  export const openPane = 'rayground:open-pane';
}

/**
 * `document.body.dataset` key set where the panel exists (JupyterLab, not Notebook 7): it shows
 * the open-the-panel links of %ray_init outputs (`data-rayground-panel` in style/base.css).
 */
export const PANEL_AVAILABLE_ATTR = 'raygroundPanel';
