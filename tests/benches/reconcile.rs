fn main() {
    println!("reconcile benchmark: not written yet");
}
