// The Vercel AI SDK, unchanged, through Dihya: one call, its outcome printed as one JSON line.
//
//   node tests/clients/vercel.mjs BASE_URL MODEL API MODE   (the key in DIHYA_KEY)
//
// API is `responses` (the provider's default model, `openai(model)`) or `chat`
// (`openai.chat(model)`); MODE is `generate` (generateText), `stream` (streamText, read as it
// comes) or `tools` (generateText with one tool the SDK runs, then a second step). Errors are
// printed as JSON too, with exit code 1, so that the test shows what the SDK said.
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, isStepCount, streamText, tool } from 'ai';
import { z } from 'zod';

const [baseURL, model, api, mode] = process.argv.slice(2);
const openai = createOpenAI({ baseURL, apiKey: process.env.DIHYA_KEY });
const chosen = api === 'chat' ? openai.chat(model) : openai(model);

// The tool the scripted engine calls: the SDK runs it and sends its result back.
const tools = {
  lookup_city: tool({
    description: 'Look up the country a city is in',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => ({ city, country: city === 'Tunis' ? 'Tunisia' : 'unknown' }),
  }),
};

function steps(result) {
  return result.steps.map((step) => ({
    finishReason: step.finishReason,
    text: step.text,
    toolCalls: step.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input })),
    toolResults: step.toolResults.map((r) => ({ id: r.toolCallId, output: r.output })),
  }));
}

async function main() {
  const prompt = 'Where is Tunis?';
  if (mode === 'stream') {
    const result = streamText({ model: chosen, prompt });
    const parts = [];
    for await (const part of result.textStream) parts.push(part);
    return { parts, text: await result.text, finishReason: await result.finishReason,
             usage: await result.usage };
  }
  const result = await generateText({
    model: chosen, prompt,
    ...(mode === 'tools' ? { tools, stopWhen: isStepCount(2) } : {}),
  });
  return { text: result.text, finishReason: result.finishReason, usage: result.totalUsage,
           steps: steps(result) };
}

try {
  console.log(JSON.stringify(await main()));
} catch (error) {
  console.log(JSON.stringify({ error: String(error), status: error.statusCode,
                               body: error.responseBody }));
  process.exitCode = 1;
}
