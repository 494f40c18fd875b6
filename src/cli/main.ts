import { Command } from "commander";
import { registerData } from "./commands/data";
import { registerImport } from "./commands/import";
import { registerServe } from "./commands/serve";
import { registerRuns } from "./commands/runs";
import { registerTrain } from "./commands/train";
import { registerValidate } from "./commands/validate";
import { registerEmbed } from "./commands/embed";
import { registerEval } from "./commands/eval";
import { registerReport } from "./commands/report";
import { ImportFailed } from "../store/import/report";
import { SpecInvalid } from "../jobs/runs";
import { version } from "../../package.json";

const program = new Command("rubato")
  .description("Rubato: learn who a listener is from slow and fast signals (FS-VAE), served over GraphQL")
  .version(version)
  .addHelpText(
    "after",
    "\nThe store is PGlite in RUBATO_DATA_DIR (default ./.rubato) unless DATABASE_URL=postgres://... names a server.\n" +
      "Examples:\n  rubato demo-data --users 500 --tracks 2000 --days 14\n  rubato import events plays.csv --create-tracks\n  rubato status",
  );

registerServe(program);
registerImport(program);
registerData(program);
registerRuns(program);
registerTrain(program);
registerValidate(program);
registerEmbed(program);
registerEval(program);
registerReport(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ImportFailed || err instanceof SpecInvalid) console.error(err.message);
  else console.error(`rubato: ${(err as Error).message ?? err}`);
  process.exitCode = 1;
});
