/** Command IDs of the rayground panel (`<pkg>:<verb-noun>`). */
export namespace CommandIDs {
  export const openPanel = 'rayground:open-panel';
  export const startCluster = 'rayground:start-cluster';
  export const stopCluster = 'rayground:stop-cluster';
  export const openLesson = 'rayground:open-lesson';
  export const followNotebook = 'rayground:follow-notebook';
}
