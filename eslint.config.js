// Lint: type-aware rules that keep the house as it is (issue 22) — exhaustive switches, type-only
// imports marked as such, no import cycles, and imports only from a lower layer (src/ folders).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import importX from 'eslint-plugin-import-x'
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript'
import reactHooks from 'eslint-plugin-react-hooks'

/**
 * The layers of src/, lowest first: a folder imports only from layers below its own (so folders of
 * one layer never import each other). Data flows ingest → route → queue → batch → deliver.
 */
const LAYERS = [
  ['util'],
  ['emulator', 'store', 'tiktok'],
  ['destination'],
  ['pipeline'],
  ['mirror'],
  ['lifecycle', 'warehouse'],
  ['config'],
  ['server'],
  ['cli', 'console']
]

const layerZones = LAYERS.flatMap((layer, rank) =>
  layer.map((folder) => ({
    target: `./src/${folder}`,
    from: LAYERS.slice(rank)
      .flat()
      .filter((f) => f !== folder)
      .map((f) => `./src/${f}`),
    message: `src/${folder} is in layer ${rank} (eslint.config.js LAYERS): it may import only from the layers below it`
  }))
)

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.tsx', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: ['tsconfig.json', 'src/console/tsconfig.json'], noWarnOnMultipleProjects: true })]
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-non-null-assertion': 'warn',
      // `_`-named and rest-sibling bindings are how a field is left out on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones: layerZones }]
    }
  },
  {
    files: ['src/console/**/*.tsx', 'src/console/**/*.ts'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' }
  },
  {
    // Tests and benchmarks poke at shapes on purpose (`any`), and a `!` there fails loudly, as a test should.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Expected code frames are matched space for space.
      'no-regex-spaces': 'off'
    }
  }
)
