#!/bin/sh
# Regenerates the fMP4 fixtures: 3 s of 320x180 H.264 (keyframes at 0 s and 2 s) and 3 s of AAC stereo,
# each written to a pipe as FFmpeg 5.1 does in the live ladder (one moof+mdat per frame / AAC packet).
set -e
cd "$(dirname "$0")"
FLAGS="-movflags empty_moov+default_base_moof+frag_every_frame -flush_packets 1 -f mp4"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -t 3 -i testsrc2=size=320x180:rate=30 -f lavfi -t 3 -i sine=frequency=440:sample_rate=48000 \
  -map 0:v -c:v libx264 -preset veryfast -tune zerolatency -profile:v high -g 60 -keyint_min 60 -sc_threshold 0 \
  -force_key_frames 'expr:gte(t,n_forced*2)' -b:v 200k -pix_fmt yuv420p $FLAGS pipe:1 \
  -map 1:a -c:a aac -b:a 64k -ac 2 $FLAGS pipe:3 > video-320x180.mp4 3> audio-aac.mp4
