/**
 * The notebook widget's front end (anywidget): the same views as the panel and the panes,
 * bundled by widget.build.js into runtime/rayground/jupyter/static/views.js, which
 * runtime/rayground/jupyter/widgets.py loads. It runs wherever anywidget does (JupyterLab,
 * Notebook 7, VS Code, Colab), with or without this JupyterLab extension installed.
 *
 * The kernel sets `kind` ('dag' or 'stream') and sends the model as `data`.
 */
import { IDag } from './dag';
import { DagView } from './dagview';

interface IModel {
  get(name: string): any;
  on(event: string, cb: () => void): void;
  off(event: string, cb: () => void): void;
}

function render({ model, el }: { model: IModel; el: HTMLElement }): () => void {
  el.classList.add('rg-widget');
  const view = new DagView({ direction: 'LR', height: model.get('height') || 360 });
  el.append(view.node);
  const draw = () => {
    const data = model.get('data') as IDag;
    if (data && Array.isArray(data.nodes)) {
      view.update(data);
    }
  };
  model.on('change:data', draw);
  draw();
  return () => {
    model.off('change:data', draw);
    view.dispose();
  };
}

export default { render };
