// AudioWorklet: the microphone's samples (channels mixed to mono) to the page in chunks of `chunk` frames.
class Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.chunk = (options.processorOptions && options.processorOptions.chunk) || 1024;
    this.buf = new Float32Array(this.chunk);
    this.fill = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (input && input.length) {
      const n = input[0].length;
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let c = 0; c < input.length; c++) s += input[c][i];
        this.buf[this.fill++] = s / input.length;
        if (this.fill === this.chunk) {
          this.port.postMessage(this.buf);
          this.buf = new Float32Array(this.chunk);
          this.fill = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("audioclf-capture", Capture);
