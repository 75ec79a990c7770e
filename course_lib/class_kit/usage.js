// Token counts for the gateway's usage log, read from each response body as it passes.
//
// nginx's njs calls `count` for every chunk of the engines' answers (streamed or not)
// and sends each chunk on unchanged. The counts are the ones the engines report:
// OpenAI's "usage": {"prompt_tokens": N, "completion_tokens": M} and Ollama's final
// "prompt_eval_count": N, "eval_count": M. The last value seen wins; a number split
// between two chunks is read whole because the previous chunk's tail is scanned again.
// A response without them (an OpenAI stream without stream_options.include_usage,
// an error) leaves the log's null: unknown, not zero.

const FIELDS = {
    prompt_tokens: /"(?:prompt_tokens|prompt_eval_count)"\s*:\s*(\d+)/g,
    completion_tokens: /"(?:completion_tokens|eval_count)"\s*:\s*(\d+)/g,
};
const TAIL = 64;  // longer than any field name, spaces and number together

let tail = "";  // per request: njs gives every request its own copy of this module

function count(r, data, flags) {
    r.sendBuffer(data, flags);
    const text = tail + data.toString();
    for (const name in FIELDS) {
        const field = FIELDS[name];
        field.lastIndex = 0;
        let found;
        while ((found = field.exec(text)) !== null) {
            r.variables[name] = found[1];
        }
    }
    tail = text.slice(-TAIL);
}

export default { count };
