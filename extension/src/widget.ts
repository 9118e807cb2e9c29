/**
 * The notebook widget's front end (anywidget): the same views as the panel and the panes,
 * bundled by widget.build.js into runtime/rayground/jupyter/static/views.js, which
 * runtime/rayground/jupyter/viewwidget.py loads. It runs wherever anywidget does (JupyterLab,
 * Notebook 7, VS Code, Colab), with or without this JupyterLab extension installed.
 *
 * The kernel sets `kind` and sends the model as `data`: for 'dag' the DAG model (dag.ts IDag,
 * built in Python by runtime/rayground/jupyter/dag.py), for 'stream' the stream's input
 * (stream.ts IStreamInput: compact tasks, worker nodes, now).
 */
import { IDag } from './dag';
import { DagView } from './dagview';
import { IStreamInput } from './stream';
import { StreamView } from './streamview';

interface IModel {
  get(name: string): any;
  on(event: string, cb: (...args: any[]) => void): void;
  off(event: string, cb: (...args: any[]) => void): void;
  send(content: any): void;
}

function render({ model, el }: { model: IModel; el: HTMLElement }): () => void {
  el.classList.add('rg-widget');
  const height = model.get('height') || 360;
  let draw: () => void;
  let dispose: () => void;
  if (model.get('kind') === 'stream') {
    const view = new StreamView({ height });
    el.append(view.node);
    draw = () => {
      const data = model.get('data') as IStreamInput;
      if (data && Array.isArray(data.tasks)) {
        view.update(data);
      }
    };
    dispose = () => view.dispose();
  } else {
    // A click on a finished task asks the kernel for a preview of its result.
    const view = new DagView({
      direction: 'LR',
      height,
      onSelect: node => {
        if (node.task && node.task.state === 'FINISHED') {
          model.send({ type: 'preview', task: node.task.id });
        }
      }
    });
    el.append(view.node);
    draw = () => {
      const data = model.get('data') as IDag;
      if (data && Array.isArray(data.nodes)) {
        view.update(data);
      }
    };
    const onMessage = (msg: any) => {
      if (msg && msg.type === 'preview' && typeof msg.task === 'string') {
        view.setPreview(msg.task, String(msg.text));
      }
    };
    model.on('msg:custom', onMessage);
    dispose = () => {
      model.off('msg:custom', onMessage);
      view.dispose();
    };
  }
  model.on('change:data', draw);
  draw();
  return () => {
    model.off('change:data', draw);
    dispose();
  };
}

export default { render };
