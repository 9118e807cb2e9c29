/**
 * The rayground JupyterLab extension: a side panel fed by the rayground server extension.
 *
 * The plugin follows the main area: whenever the widget in front (or its kernel) changes, it
 * tells the panel the kernel id, and the server answers with that kernel's cluster.
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, ISessionContext, WidgetTracker } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import { CommandIDs, PANEL_AVAILABLE_ATTR } from './commands';
import { PANE_TITLES, PaneKind, RaygroundPanel } from './panel';
import { RaygroundPane } from './panes';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><circle cx="5" cy="12" r="3"/><circle cx="19" cy="5" r="3"/>
<circle cx="19" cy="19" r="3"/></g>
<g class="jp-icon3" stroke="#616161" stroke-width="1.6" fill="none">
<path d="M7.6 10.6 16.4 6.4M7.6 13.4l8.8 4.2"/></g></svg>`;

export const raygroundIcon = new LabIcon({
  name: 'rayground:icon',
  svgstr: ICON_SVG
});

/** The session context of a main-area widget, if it has one (notebooks, consoles). */
function sessionContextOf(widget: Widget | null): ISessionContext | null {
  const candidate = (widget as any)?.sessionContext;
  return candidate && typeof candidate === 'object' && 'kernelChanged' in candidate
    ? (candidate as ISessionContext)
    : null;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@rayground/lab:plugin',
  description:
    'A side panel with the rayground clusters on this machine, their live task DAG, object store and actors, and the course.',
  autoStart: true,
  // Optional, not required: Notebook 7 loads JupyterLab extensions too but has no ILabShell, and
  // a missing requirement would be a failed plugin there. Without it there is no panel.
  optional: [ILabShell, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    if (!labShell) {
      return;
    }
    const { commands } = app;
    const panel = new RaygroundPanel({
      openLesson: path => {
        void commands.execute('docmanager:open', { path });
      },
      openPane: kind => {
        void commands.execute(CommandIDs.openPane, { kind });
      }
    });
    // The panes, one per kind; restored with the layout when JupyterLab reloads.
    const panes = new WidgetTracker<RaygroundPane>({ namespace: 'rayground-pane' });
    const kinds = Object.keys(PANE_TITLES) as PaneKind[];
    panel.title.icon = raygroundIcon;
    app.shell.add(panel, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(panel, 'rayground-panel');
    }

    // Follow the widget in front and its kernel.
    let tracked: ISessionContext | null = null;
    const update = () => {
      const kernel = tracked?.session?.kernel ?? null;
      panel.setKernel(kernel?.id ?? null, tracked ? tracked.name || tracked.path : null);
    };
    const onCurrent = () => {
      const current = labShell.currentWidget;
      const next = sessionContextOf(current);
      if (next === tracked) {
        return;
      }
      // A pane, a terminal or the launcher in front: keep following the last notebook (a pane
      // shows that notebook's cluster), unless it was closed.
      if (!next && tracked && !tracked.isDisposed) {
        return;
      }
      if (tracked) {
        tracked.kernelChanged.disconnect(update);
        tracked.sessionChanged.disconnect(update);
      }
      tracked = next;
      if (tracked) {
        tracked.kernelChanged.connect(update);
        tracked.sessionChanged.connect(update);
      }
      update();
    };
    labShell.currentChanged.connect(onCurrent);
    onCurrent();

    commands.addCommand(CommandIDs.openPanel, {
      label: 'Show the rayground panel',
      caption: 'Clusters, task DAG, object store, actors and the course',
      icon: raygroundIcon,
      execute: () => labShell.activateById(panel.id)
    });
    commands.addCommand(CommandIDs.startCluster, {
      label: 'Start a local rayground cluster',
      execute: async args => {
        const cpus = typeof args['num_cpus'] === 'number' ? (args['num_cpus'] as number) : undefined;
        labShell.activateById(panel.id);
        return panel.startCluster(cpus);
      }
    });
    commands.addCommand(CommandIDs.stopCluster, {
      label: 'Stop the picked rayground cluster',
      isEnabled: () => {
        const id = panel.watchedCluster;
        return !!panel.clusters.find(c => c.id === id && c.stoppable);
      },
      execute: async args => {
        const id = (args['id'] as string) || panel.watchedCluster;
        if (id) {
          await panel.stopCluster(id);
        }
      }
    });
    commands.addCommand(CommandIDs.openLesson, {
      label: args => (args['path'] ? `Open lesson ${args['path']}` : 'Open a rayground lesson'),
      execute: args => {
        const path = args['path'] as string;
        if (path) {
          return commands.execute('docmanager:open', { path });
        }
        labShell.activateById(panel.id);
      }
    });
    commands.addCommand(CommandIDs.openPane, {
      label: args =>
        kinds.includes(args['kind'] as PaneKind)
          ? `Open the rayground ${PANE_TITLES[args['kind'] as PaneKind].toLowerCase()}`
          : 'Open a rayground view',
      caption: 'As a main-area pane that follows the cluster the rayground panel watches',
      icon: raygroundIcon,
      execute: args => {
        const kind = args['kind'] as PaneKind;
        if (!kinds.includes(kind)) {
          throw new Error(
            `rayground: no view "${String(kind)}"; open one of: ${kinds.join(', ')}`
          );
        }
        let pane = panes.find(p => p.kind === kind);
        if (!pane) {
          // The first pane beside the notebook, the others as tabs with it, so the notebook
          // keeps its width (the learner drags them elsewhere at will).
          const beside = panes.find(p => p.isAttached);
          pane = new RaygroundPane(kind, panel);
          pane.title.icon = raygroundIcon;
          void panes.add(pane);
          app.shell.add(
            pane,
            'main',
            beside ? { ref: beside.id, mode: 'tab-after' } : { mode: 'split-right' }
          );
        }
        labShell.activateById(pane.id);
        return pane;
      }
    });
    if (restorer) {
      void restorer.restore(panes, {
        command: CommandIDs.openPane,
        args: pane => ({ kind: pane.kind }),
        name: pane => pane.kind
      });
    }
    commands.addCommand(CommandIDs.followNotebook, {
      label: 'Watch the cluster of the notebook in front',
      execute: () => panel.pick(null)
    });
    // Outputs of %ray_init carry a hidden "Open the panel" link (data-commandlinker-command,
    // run by JupyterLab's CommandLinker); the page attribute makes style/base.css show it.
    document.body.dataset[PANEL_AVAILABLE_ATTR] = 'true';
    if (palette) {
      const category = 'rayground';
      for (const command of [
        CommandIDs.openPanel,
        CommandIDs.startCluster,
        CommandIDs.stopCluster,
        CommandIDs.followNotebook
      ]) {
        palette.addItem({ command, category });
      }
      for (const kind of kinds) {
        palette.addItem({ command: CommandIDs.openPane, args: { kind }, category });
      }
    }
  }
};

export default plugin;
