import globals from 'globals'
import neostandard from 'neostandard'

// neostandard is the style the code is already written in; `ts: true` adds its TypeScript rules.
export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'static/vendor/**', 'coverage/**'] }),
  {
    // The login page runs in browsers, not in Node.
    files: ['static/**/*.js'],
    languageOptions: { globals: globals.browser }
  }
]
