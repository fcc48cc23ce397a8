// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // .cache/ holds the OHIF viewer's prebuilt bundle (fetched by its test and the radiology demo).
    ignores: [
      'dist/',
      'node_modules/',
      'data/',
      'coverage/',
      '.cache/',
      'test-artifacts/',
      'fhir-profiles/fsh-generated/',
      '**/*.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    files: ['scripts/**/*.ts', 'bench/**/*.ts', 'src/imaging/cli.ts', 'test/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
