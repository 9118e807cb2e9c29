// Unit tests of the panel's pure logic (DAG grouping and layout, progress, formatting).
// They need no JupyterLab environment, so ts-jest compiles them directly.
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  },
  testRegex: 'src/.*/.*\\.spec\\.ts$',
  moduleFileExtensions: ['ts', 'tsx', 'js', 'json']
};
