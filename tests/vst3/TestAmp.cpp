// PANAMA's test amp: drive (tanh waveshaper), tone (one-pole low-pass cutoff), output level.
// It reports a fixed latency of kLatency samples (its output is delayed by that much) and
// keeps filter state between blocks, so the host's latency compensation and reset matter.
#include <juce_audio_processors/juce_audio_processors.h>
#include <cmath>

class TestAmp final : public juce::AudioProcessor {
public:
    static constexpr int kLatency = 64;

    TestAmp() : AudioProcessor(BusesProperties()
                                   .withInput("In", juce::AudioChannelSet::mono(), true)
                                   .withOutput("Out", juce::AudioChannelSet::mono(), true)) {
        addParameter(drive = new juce::AudioParameterFloat({"drive", 1}, "Drive", 0.0f, 10.0f, 5.0f));
        // Tone is a skewed (log-like) cutoff, so its display is not linear in the raw value.
        addParameter(tone = new juce::AudioParameterFloat({"tone", 1}, "Tone",
            juce::NormalisableRange<float>(200.0f, 8000.0f, 0.0f, 0.3f), 1000.0f,
            juce::AudioParameterFloatAttributes().withLabel("Hz")));
        addParameter(level = new juce::AudioParameterFloat({"level", 1}, "Output Level",
            juce::NormalisableRange<float>(-24.0f, 6.0f), 0.0f,
            juce::AudioParameterFloatAttributes().withLabel("dB")));
        setLatencySamples(kLatency);
    }

    void prepareToPlay(double rate, int) override { sampleRate = rate; reset(); }
    void releaseResources() override {}
    void reset() override { state = 0.0f; delay.fill(0.0f); pos = 0; }

    bool isBusesLayoutSupported(const BusesLayout& l) const override {
        return l.getMainInputChannelSet() == juce::AudioChannelSet::mono()
            && l.getMainOutputChannelSet() == juce::AudioChannelSet::mono();
    }

    void processBlock(juce::AudioBuffer<float>& buffer, juce::MidiBuffer&) override {
        const float gain = 1.0f + drive->get() * drive->get();
        const float alpha = 1.0f - std::exp(-juce::MathConstants<float>::twoPi * tone->get() / (float) sampleRate);
        const float out = std::pow(10.0f, level->get() / 20.0f);
        float* x = buffer.getWritePointer(0);
        for (int i = 0; i < buffer.getNumSamples(); ++i) {
            state += alpha * (std::tanh(gain * x[i]) - state);
            const float delayed = delay[(size_t) pos];
            delay[(size_t) pos] = out * state;
            pos = (pos + 1) % kLatency;
            x[i] = delayed;
        }
    }

    juce::AudioProcessorEditor* createEditor() override { return nullptr; }
    bool hasEditor() const override { return false; }
    const juce::String getName() const override { return "PanamaTestAmp"; }
    bool acceptsMidi() const override { return false; }
    bool producesMidi() const override { return false; }
    double getTailLengthSeconds() const override { return 0.0; }
    int getNumPrograms() override { return 1; }
    int getCurrentProgram() override { return 0; }
    void setCurrentProgram(int) override {}
    const juce::String getProgramName(int) override { return {}; }
    void changeProgramName(int, const juce::String&) override {}
    void getStateInformation(juce::MemoryBlock&) override {}
    void setStateInformation(const void*, int) override {}

private:
    juce::AudioParameterFloat* drive;
    juce::AudioParameterFloat* tone;
    juce::AudioParameterFloat* level;
    std::array<float, kLatency> delay{};
    double sampleRate = 48000.0;
    float state = 0.0f;
    int pos = 0;
};

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter() { return new TestAmp(); }
