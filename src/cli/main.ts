export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('purser: not built yet\n');
  return 1;
}
