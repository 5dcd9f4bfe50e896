// sermo's AudioWorklet: forwards every 128-frame block of its input, unchanged, to the port it
// is given (a MessageChannel to sermo's worker). No DSP happens here: mixing, buffering,
// features and inference run in the worker.
class SermoRecorder extends AudioWorkletProcessor {
  constructor() {
    super();
    this.target = null;
    this.running = true;
    this.port.onmessage = (event) => {
      if (event.data === "stop") {
        this.running = false;
        if (this.target) this.target.close();
        this.target = null;
      } else if (event.data && event.data.port) {
        this.target = event.data.port;
      }
    };
  }

  process(inputs) {
    const input = inputs[0];
    if (this.target && input && input.length > 0) {
      // The engine reuses its buffers: send copies, and transfer them rather than clone again.
      const channels = input.map((channel) => channel.slice());
      this.target.postMessage(channels, channels.map((c) => c.buffer));
    }
    return this.running;
  }
}

registerProcessor("sermo-recorder", SermoRecorder);
