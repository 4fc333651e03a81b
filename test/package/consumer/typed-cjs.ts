// TypeScript compiled to CommonJS (this project's package.json has "type": "commonjs"):
// load() is what the `require` condition declares, and it gives the full types.
import { load, type SpoolModule } from 'spool'

async function main(dir: string): Promise<void> {
  const spool: SpoolModule = await load()
  const log = await spool.openSpool({ dir })
  await log.createTopic('orders')
  const sent: { offset: number } = await log.producer().send({ topic: 'orders', value: 'typed' })
  await log.close()
  console.log(`typed cjs ok: ${sent.offset}`)
}

main(process.argv[2] ?? 'spool-data').catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
