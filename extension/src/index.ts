import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@rayground/lab:plugin',
  description: 'rayground side panel',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    console.log('rayground panel activated');
  }
};

export default plugin;
