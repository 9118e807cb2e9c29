// Bundles the notebook widget's front end (src/widget.ts, compiled to lib/ by tsc) with its
// dependencies (dagre) into one ES module for anywidget, next to the Python code that serves
// it, with the views' stylesheet. Run by `jlpm build` / `jlpm build:prod` after tsc.
const fs = require('fs');
const path = require('path');
const { rspack } = require('@rspack/core');

const out = path.resolve(__dirname, '../runtime/rayground/jupyter/static');
const production = process.argv.includes('--production');

rspack(
  {
    mode: production ? 'production' : 'development',
    devtool: false,
    entry: path.resolve(__dirname, 'lib/widget.js'),
    target: 'web',
    experiments: { outputModule: true },
    output: {
      path: out,
      filename: 'views.js',
      module: true,
      library: { type: 'module' },
      clean: false
    }
  },
  (err, stats) => {
    if (err || stats.hasErrors()) {
      console.error(err || stats.toString('errors-only'));
      process.exit(1);
    }
    fs.copyFileSync(path.resolve(__dirname, 'style/views.css'), path.join(out, 'views.css'));
    console.log(`widget bundle: ${path.join(out, 'views.js')}`);
  }
);
