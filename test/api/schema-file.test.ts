import fs from "node:fs";
import { SCHEMA_FILE, schemaText } from "../../src/api/schema-file";

describe("schema.graphql", () => {
  it("is the schema the code builds (else run `npm run schema` and commit it)", () => {
    const built = schemaText();
    const file = fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, "utf8") : "";
    if (file !== built) {
      const a = file.split("\n");
      const b = built.split("\n");
      const line = a.findIndex((l, i) => l !== b[i]);
      const at = line === -1 ? Math.min(a.length, b.length) : line;
      throw new Error(
        `schema.graphql is stale: run \`npm run schema\` and commit the file.\n` +
          `first difference at line ${at + 1}:\n  file:  ${a[at] ?? "(end of file)"}\n  code:  ${b[at] ?? "(end of schema)"}`,
      );
    }
    expect(file).toBe(built);
  });

  it("has every mutation in the Relay shape: one non-null input, a payload back, clientMutationId on both", () => {
    const text = schemaText();
    const mutations = [
      ...text
        .slice(text.indexOf("type Mutation {"))
        .split("\n}")[0]
        .matchAll(/^ {2}(\w+)\((.*)\): (\w+)!$/gm),
    ];
    expect(mutations.map((m) => m[1])).toEqual(["activateRun", "cancelTraining", "recordPlays", "startTraining"]);
    for (const [, name, args, payload] of mutations) {
      const Name = name[0].toUpperCase() + name.slice(1);
      expect({ name, args, payload }).toEqual({ name, args: `input: ${Name}Input!`, payload: `${Name}Payload` });
      for (const type of [`input ${Name}Input {`, `type ${Name}Payload {`])
        expect({ type, echoes: text.split(type)[1].split("\n}")[0].includes("clientMutationId: String") }).toEqual({ type, echoes: true });
    }
  });
});
