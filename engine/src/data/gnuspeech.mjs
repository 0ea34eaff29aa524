// GnuSpeech speaking for tempokd's corpus generator (run by engine/src/data/gnuspeech.rs).
//
// The synthesizer is the npm package @echogarden/gnuspeech-wasm: GnuSpeech's articulatory model
// (a tube model of the vocal tract driven by its English rules and dictionary) compiled to
// WebAssembly, with five voice presets. One job per line on standard input:
//
//     OUT <tab> PRESET <tab> TRACT <tab> PITCH <tab> TEMPO <tab> WORD
//
// TRACT scales the preset's vocal tract length (per cent), PITCH moves its pitch (semitones) and
// TEMPO its speaking rate (per cent). Once the module is loaded `ready` is answered; then each
// job is written to OUT as a 44.1 kHz mono WAV file, and one line is answered for it: `ok` or
// `error: why`. Every failure is answered on standard output, on one line; whatever else writes to
// standard output goes to standard error instead, so it cannot be taken for an answer.
//
// GnuSpeech draws its intonation's random drift from the random source once per utterance; that
// source is seeded from the job (everything but OUT), so a voice says a word the same way each time.
import { writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'

const answers = process.stdout
console.log = console.info = console.warn = console.error

function answer(line) {
  answers.write(String(line).split(/\r?\n/).join(' ') + '\n')
}

let randomState = 1
Object.defineProperty(globalThis, 'crypto', {
  configurable: true,
  value: {
    getRandomValues(view) {
      const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
      for (let i = 0; i < bytes.length; i++) {
        // xorshift32
        randomState ^= randomState << 13
        randomState ^= randomState >>> 17
        randomState ^= randomState << 5
        randomState >>>= 0
        bytes[i] = randomState >>> 24
      }
      return view
    },
  },
})

// FNV-1a over the job's text, never 0 (xorshift's fixed point).
function seedOf(text) {
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(text, 'utf8')) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0
  }
  return hash || 1
}

const PRESETS = ['male', 'female', 'large_child', 'small_child', 'baby']
const DATA = '/data/en'

async function load() {
  const folder = process.env.TEMPOKD_GNUSPEECH
  const module = folder
    ? pathToFileURL(`${folder}/wasm/gnuspeech.js`).href
    : '@echogarden/gnuspeech-wasm/wasm/gnuspeech.js'
  const { default: initialise } = await import(module)
  const synthesizer = await initialise()
  const read = (file) => new TextDecoder().decode(synthesizer.FS.readFile(`${DATA}/${file}`))
  const voices = Object.fromEntries(PRESETS.map((preset) => [preset, read(`voice_${preset}.txt`)]))
  return { synthesizer, control: read('trm_control_model.txt'), voices }
}

// A setting's line in one of GnuSpeech's configuration files, replaced by `value` (a function of
// the old value); an error if the file has no such line.
function setting(text, name, value) {
  const line = new RegExp(`^${name} = (.*)$`, 'm')
  if (!line.test(text)) throw new Error(`GnuSpeech's configuration has no ${name}`)
  return text.replace(line, (_, old) => `${name} = ${value(old)}`)
}

function number(text, low, high, what) {
  const value = Number(text)
  if (!Number.isFinite(value) || value < low || value > high) {
    throw new Error(`${what} must be ${low} to ${high}; got \`${text}\``)
  }
  return value
}

function cString(synthesizer, text) {
  const bytes = Buffer.from(text + '\0', 'utf8')
  const address = synthesizer._malloc(bytes.length)
  if (!address) throw new Error('GnuSpeech has no memory left')
  synthesizer.HEAPU8.set(bytes, address)
  return address
}

function speak({ synthesizer, control, voices }, job) {
  const fields = job.split('\t')
  if (fields.length !== 6) throw new Error(`a job has 6 fields; got ${fields.length}`)
  const [out, preset, tractText, pitchText, tempoText, word] = fields
  if (!PRESETS.includes(preset)) {
    throw new Error(`no voice \`${preset}\`; the voices are ${PRESETS.join(', ')}`)
  }
  const tract = number(tractText, 50, 150, 'TRACT (per cent)')
  const pitch = number(pitchText, -24, 24, 'PITCH (semitones)')
  const tempo = number(tempoText, 50, 200, 'TEMPO (per cent)')
  if (!/^[a-z' ]{1,100}$/.test(word)) {
    throw new Error(`\`${word}\`: only 1 to 100 lower-case letters, apostrophes and spaces`)
  }
  const voice = setting(voices[preset], 'vocal_tract_length', (old) =>
    ((Number(old) * tract) / 100).toFixed(3),
  )
  let model = setting(control, 'voice_name', () => 'tempokd')
  model = setting(model, 'tempo', () => (tempo / 100).toFixed(3))
  model = setting(model, 'pitch_offset', (old) => (Number(old) + pitch).toFixed(3))
  synthesizer.FS.writeFile(`${DATA}/voice_tempokd.txt`, voice)
  synthesizer.FS.writeFile(`${DATA}/trm_control_model.txt`, model)
  randomState = seedOf(fields.slice(1).join('\t'))
  const strings = [word, '/out.wav', DATA, '/out-parameters.txt'].map((text) =>
    cString(synthesizer, text),
  )
  try {
    synthesizer._GnuSpeech_synthesizeToFile(...strings, 0)
  } finally {
    strings.forEach((address) => synthesizer._free(address))
  }
  const wav = synthesizer.FS.readFile('/out.wav')
  synthesizer.FS.unlink('/out.wav')
  if (wav.length <= 44) throw new Error(`GnuSpeech said nothing for \`${word}\``)
  writeFileSync(out, wav)
}

let loaded
try {
  loaded = await load()
} catch (error) {
  answer(`error: could not load GnuSpeech: ${error?.message ?? error}`)
  process.exit(1)
}
answer('ready')
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line) continue
  try {
    speak(loaded, line)
    answer('ok')
  } catch (error) {
    answer(`error: ${error?.message ?? error}`)
  }
}
