/**
 * A strict parser of the Prometheus text exposition format (0.0.4): every line is a
 * `# HELP`, a `# TYPE`, or a sample `name{label="value",…} number`; samples follow their
 * family's TYPE. Throws on any line outside the grammar.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
  /** The value of the sample with this name and exactly these labels (0 when absent). */
  value(name: string, labels?: Record<string, string>): number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(?:,|$)/;

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = new RegExp(`^# HELP (${NAME}) .*$`).exec(line);
    if (help) continue;
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      if (types.has(type[1]!)) throw new Error(`TYPE repeated: ${line}`);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not in the text format: ${JSON.stringify(line)}`);
    const [, name, rawLabels, rawValue] = m;
    // Prometheus parses values with Go's ParseFloat: NaN and Inf in any case (prom-client writes "Nan").
    const v = rawValue!.toLowerCase();
    const value = v === '+inf' || v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number(rawValue);
    if (Number.isNaN(value) && v !== 'nan') throw new Error(`bad value: ${line}`);
    const labels: Record<string, string> = {};
    let rest = rawLabels ?? '';
    while (rest) {
      const l = LABEL.exec(rest);
      if (!l) throw new Error(`bad labels: ${line}`);
      labels[l[1]!] = l[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(l[0].length);
    }
    const family = name!.replace(/_(bucket|sum|count|total|created)$/, '');
    if (!types.has(name!) && !types.has(family)) throw new Error(`sample before its TYPE: ${line}`);
    samples.push({ name: name!, labels, value });
  }
  return {
    types,
    samples,
    value(name, want = {}) {
      const keys = Object.keys(want);
      const s = samples.find(
        (x) =>
          x.name === name &&
          Object.keys(x.labels).length === keys.length &&
          keys.every((k) => x.labels[k] === want[k]),
      );
      return s?.value ?? 0;
    },
  };
}
