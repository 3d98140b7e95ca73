// ESLint flat config: typescript-eslint's type-aware rules; src/ must not touch Node-only APIs.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "tools/*.mjs", "eslint.config.js"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: { parserOptions: { project: "./tsconfig.dev.json", tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
    },
  },
  {
    files: ["src/**/*.ts"],
    rules: {
      "no-restricted-globals": ["error", "Buffer", "process", "require", "__dirname", "setImmediate"],
      "no-restricted-imports": ["error", { patterns: ["node:*", "fs", "crypto", "path", "buffer"] }],
    },
  },
  {
    // Plain ESM scripts node runs as they are (the browser and end-to-end drivers): no type information.
    files: ["e2e/**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ["e2e/**/*.mjs"],
    languageOptions: {
      globals: { console: "readonly", process: "readonly", URL: "readonly", performance: "readonly", setTimeout: "readonly", clearTimeout: "readonly", fetch: "readonly", Headers: "readonly", document: "readonly", window: "readonly", globalThis: "readonly", TextEncoder: "readonly" },
    },
  },
  {
    files: ["test/**/*.ts", "tools/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      // node:test describe/it return promises the runner awaits.
      "@typescript-eslint/no-floating-promises": "off",
    },
  },
);
